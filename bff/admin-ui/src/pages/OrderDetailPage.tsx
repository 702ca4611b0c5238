import { ArrowLeftOutlined } from '@ant-design/icons';
import { Button, Card } from 'antd';
import { useNavigate, useParams } from 'react-router-dom';
import { OrderDetail } from '../components/OrderDetail';

export default function OrderDetailPage() {
  const { id } = useParams();
  const navigate = useNavigate();
  return (
    <div>
      <h2 className="hp-page-title">
        <Button type="text" icon={<ArrowLeftOutlined />} onClick={() => navigate(-1)} /> 订单详情
      </h2>
      <Card>{id && <OrderDetail id={id} />}</Card>
    </div>
  );
}
